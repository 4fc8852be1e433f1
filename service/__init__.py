"""Officials' service (issue 8): the published runs on the web, each province seeing only its own.

`service.app.create_app` builds the FastAPI application; `zjtx api` (zjtx/cli_api.py) serves it
and administers the access tokens.
"""
