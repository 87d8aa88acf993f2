"""Fleet postures: sources in AWS (SSM, Secrets Manager, S3, AppConfig), read and kept
for a TTL."""
