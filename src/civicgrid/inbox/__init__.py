"""The inbox (消息中心): what must reach a person — notifications, orders, call-outs."""
