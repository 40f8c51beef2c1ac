"""The server-rendered portal for drivers and operators, and the public EVSE payment pages."""
