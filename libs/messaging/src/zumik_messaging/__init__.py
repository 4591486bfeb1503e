"""RabbitMQ plumbing the Zumik Support services share."""
