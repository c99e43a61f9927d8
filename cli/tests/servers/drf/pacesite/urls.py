from django.urls import path

from pacesite import views

urlpatterns = [
    path("pn/", views.records(views.PageNumber)),  # ?page=P (&size=N, capped at 100)
    path("lo/", views.records(views.LimitOffset)),  # ?limit=N&offset=M (limit capped at 100)
    path("cursor/", views.records(views.Cursor)),  # ?cursor=... (opaque), ordered by id
    path("v1/companies", views.records(views.ItemsTotal)),  # the seeds' shape: items + total
    path("stats/", views.stats),
    path("all/", views.all_ids),
]
