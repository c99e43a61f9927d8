import os

from django.http import JsonResponse
from rest_framework import generics, pagination, serializers

from pacesite.models import Record

INSERT_EVERY = int(os.environ.get("INSERT_EVERY", "0"))
STATS = {"list_requests": 0, "inserted": 0}
UNCOUNTED = ("/stats/", "/all/")


def count_and_insert(get_response):
    """Middleware: counts list requests; with INSERT_EVERY=N, every Nth inserts one record."""

    def middleware(request):
        if request.path not in UNCOUNTED:
            STATS["list_requests"] += 1
            if INSERT_EVERY and STATS["list_requests"] % INSERT_EVERY == 0:
                Record.objects.create(name=f"inserted at request {STATS['list_requests']}")
                STATS["inserted"] += 1
        return get_response(request)

    return middleware


class RecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = Record
        fields = ["id", "name", "created"]


class PageNumber(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "size"
    max_page_size = 100


class LimitOffset(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 100


class ItemsTotal(pagination.LimitOffsetPagination):
    """The seeds' API (../shared/seeds/001): `?limit=N&offset=M` -> {"items": [...], "total": N},
    no next link: a client must know to send `offset`."""

    default_limit = 10
    max_limit = 100

    def get_paginated_response(self, data):
        from rest_framework.response import Response

        return Response({"items": data, "total": self.count})


class Cursor(pagination.CursorPagination):
    page_size = 50
    ordering = "id"


def records(paginator):
    return generics.ListAPIView.as_view(
        queryset=Record.objects.order_by("id"),
        serializer_class=RecordSerializer,
        pagination_class=paginator,
    )


def stats(request):
    return JsonResponse(STATS)


def all_ids(request):
    """The ground truth: every id, unpaginated (not counted as a list request)."""
    return JsonResponse({"ids": list(Record.objects.order_by("id").values_list("id", flat=True))})
