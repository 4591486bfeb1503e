"""Messages the API consumes from RabbitMQ."""
