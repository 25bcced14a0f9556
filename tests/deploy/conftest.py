# The platform's services as separate processes on the test database and vhost, as in the
# end-to-end tests.
from tests.e2e.conftest import platform_env, services  # noqa: F401
