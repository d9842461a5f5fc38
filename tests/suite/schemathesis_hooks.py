"""Schemathesis hooks of tests/suite/openapi_schemathesis.rs: the tus bodies
(`application/offset+octet-stream`) are raw bytes, which schemathesis
cannot derive from a schema, so it is told to send short random ones."""

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type(
    "application/offset+octet-stream", st.binary(max_size=4096)
)
