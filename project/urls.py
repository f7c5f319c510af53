"""Every URL of Haven: the API under /api/v1/, its schema and docs, the pages, and the
operator's health and metrics endpoints (no signing in; docs/operations.md)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from project import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/v1/", include("groups.urls")),
    path("api/v1/", include("facilitation.urls")),
    path("api/v1/", include("safeguarding.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("staff/admin/", admin.site.urls),
    path("", include("frontend.urls")),
]

handler400 = "project.exceptions.handler400"
handler403 = "project.exceptions.handler403"
handler404 = "project.exceptions.handler404"
handler500 = "project.exceptions.handler500"
