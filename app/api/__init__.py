"""HTTP controllers: parse, call a service, shape the response. No business logic here."""
