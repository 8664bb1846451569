"""Realtime hub: messages published inside a transaction, pushed after it commits to the
WebSocket clients whose jurisdiction covers them. See :mod:`civicgrid.realtime.hub`."""
