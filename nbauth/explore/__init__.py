"""Each service's data calls, as the methods of its own Session subclass.

After a login, the next step is one line: ``s.ls("/reports")``, ``s.download(...)``,
``s.rooms()``, ``s.messages("general")``. Each module here is a Session subclass that turns
the service's documented file or message API into DataFrames and bytes, using the session's
token and the same transport rules as the login (timeouts, TLS, 503 retries, masking).
"""
