"""The decision: what each Comprehend operation carries (derived from botocore's model),
judged against a posture. Pure: no I/O, no client, no logging."""
