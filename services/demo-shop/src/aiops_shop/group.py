from aiops_core.app import ServiceSpec

SERVICE = ServiceSpec(
    name="shop",
    default_port=8080,
    summary="demo shop: frontend, payment and inventory together",
    members=("shop-frontend", "shop-payment", "shop-inventory"),
)
