"""Invoicing: receipts, monthly invoices and credit notes, their numbers, VAT, PDF and XML."""
