"""Our search attributes: what ops filter on in the Temporal UI and `temporal workflow list --query`.

No personal data goes here (no e-mail, phone or address): visibility is readable by every operator.
"""

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
ORDER_TOTAL = SearchAttributeKey.for_float("OrderTotal")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
WAREHOUSE = SearchAttributeKey.for_keyword("Warehouse")
CARRIER = SearchAttributeKey.for_keyword("Carrier")

ALL = (ORDER_STATUS, CUSTOMER_ID, CHANNEL, ORDER_TOTAL, NEEDS_ATTENTION, WAREHOUSE, CARRIER)
