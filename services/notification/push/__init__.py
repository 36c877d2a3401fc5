"""Content-free, signed push to a device's push gateway when a delivery is not acknowledged:
subscriptions, the URL guard, sealed secrets, collapse, deferral (quiet hours and other
policies), sending with retries through RabbitMQ delay queues."""
