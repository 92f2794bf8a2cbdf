"""The API's routes, one router per resource (included by ``facelens.api.app.create_app``)."""
