from zumik_privacy.main import main

main()
