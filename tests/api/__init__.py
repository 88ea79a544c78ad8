"""Tests of the HTTP front against a real uvicorn on a loopback port."""
