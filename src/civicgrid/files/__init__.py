"""The file store (issue 14 §5): photos, voice messages, agreements and case documents, with their
metadata and scope in the database and their bytes in a backend (a directory, or an S3-compatible
bucket); every read checks the caller's access and the bytes' SHA-256."""
