"""Accounts: charging stations (with hashed OCPP passwords) and the id tokens drivers use."""
