"""What every process of the service shares: settings, logging, the database pool, the Temporal client."""
