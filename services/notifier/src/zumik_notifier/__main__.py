from zumik_notifier.main import main

main()
