"""The JSON API under /api/v1: one NinjaAPI, with each app's router mounted on it."""

from ninja import NinjaAPI

api = NinjaAPI(title="Careway API", version="1", urls_namespace="api")
