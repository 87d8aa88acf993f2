"""Read-only looks at an account: preflight (doctor) and scan."""
