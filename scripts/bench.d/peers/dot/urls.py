"""The two URLs of the django-oauth-toolkit peer: POST /token (client_credentials with
client_secret_basic, opaque tokens) and POST /introspect (RFC 7662; the caller authenticates with
client_secret_basic)."""
from django.urls import path
from oauth2_provider.views import IntrospectTokenView, TokenView

urlpatterns = [
    path("token", TokenView.as_view()),
    path("introspect", IntrospectTokenView.as_view()),
]
