"""The HTTP edge: request body limits, the guard of Dash callback requests and the upload routes
(the Waitress server that serves them is serving.server)."""

from web.callback_body import CALLBACK_OUTPUT_KEY, install_callback_guard
from web.limits import accepts_upload, install_limits

__all__ = ["CALLBACK_OUTPUT_KEY", "accepts_upload", "install", "install_callback_guard", "install_limits"]


def install(app, settings) -> None:
    """Body limits and short 400/413 answers on ``app``'s server, the callback guard, and the
    upload / template / report routes of 数据管理 (outside the guard)."""
    from web.uploads import install_upload_routes

    install_limits(app.server, settings)
    install_callback_guard(app)
    install_upload_routes(app.server)
