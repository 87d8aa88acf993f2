"""The posture: the approved settings (pydantic models), where they come from, how they are read."""
