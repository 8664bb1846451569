"""Durable timers: deadlines, escalations and reminders that survive restarts.

A timer is a row (``timers``) armed inside the business transaction that needs it; a worker
loop claims due rows and runs the handler registered for the timer's kind. See
:mod:`civicgrid.timers.service` (arm, cancel, handlers) and :mod:`civicgrid.timers.worker`.
"""
