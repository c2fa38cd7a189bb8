"""The OpenClaw gateway inside a bot container: its generated config, the container it needs,
the preflight with the gateway's own checks, and hot-reload classification.

Pure apart from nothing: rendering and classification are functions of a BotSpec; the host
file writes live in deployer/runtime/hostfiles.py and engine calls in the backend.
"""
