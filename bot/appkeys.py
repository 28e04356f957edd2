"""Typed keys for what the web app keeps on its ``web.Application`` (shared by its route modules)."""
from __future__ import annotations

import aiohttp
from aiohttp import web

from aisle.config import Settings
from bot.api_keys import ApiKeys
from bot.conversation_tokens import ConversationTokens
from bot.gateway import Gateway
from bot.handoff import Handoffs

SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)
HANDOFFS: web.AppKey[Handoffs] = web.AppKey("handoffs", Handoffs)
INTERNAL_SECRET: web.AppKey[str] = web.AppKey("internal_secret", str)  # bearer for Rasa, actions and NLU
API_KEYS: web.AppKey[ApiKeys] = web.AppKey("api_keys", ApiKeys)
TOKENS: web.AppKey[ConversationTokens] = web.AppKey("conversation_tokens", ConversationTokens)
