"""The money audit: one truth per session. Rated total = amount captured or charged =
document lines = ledger postings, per session, currency and VAT rate (`evbill audit`)."""
