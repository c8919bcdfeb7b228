"""Users, password hashing (argon2id) and API tokens (JWT)."""
