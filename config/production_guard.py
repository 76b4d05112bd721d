"""What `oms api` and `oms worker` refuse to start with: the development stack's keys and secrets.

The defaults of config/settings.py make `oms dev` work with no configuration, so a process that
was started without one runs on publicly known keys. The guard is therefore on by default: a
production process starts only on its own keys and secrets, and has nothing to opt in to. Only the
dev stack switches it off, by setting OMS_DEV_STACK=1 for the processes it starts (`oms dev`, and
the test and bench stacks, tests/reliability/stack.py and bench/stack.py).

Each refusal names the variable to set and how; none quotes a key or secret.
"""

from config.settings import DEV_KEYS, DEV_SECRETS, MIN_API_KEY_LENGTH, Settings, api_key_digest

# The console's cookies are signed (HMAC) with OMS_CONSOLE_SECRET: a guessable secret lets anyone
# forge an ops session. 32 characters is what `secrets.token_urlsafe(24)` gives.
MIN_CONSOLE_SECRET_LENGTH = 32

NEW_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
NEW_CODEC_KEY_COMMAND = (
    "python -c \"import base64, os; print('prod-1:' + base64.b64encode(os.urandom(32)).decode())\""
)


def production_refusals(settings: Settings) -> list[str]:
    """Every reason these settings may not serve outside the dev stack; empty when they may."""
    if settings.dev_stack:
        return []
    refusals: list[str] = []
    dev_digests = {api_key_digest(key) for key in DEV_KEYS}
    # Compared by digest, so a development key written as `sha256$<hex>` is caught too.
    dev_named = [entry.name for entry in settings.api_key_entries() if entry.digest in dev_digests]
    if dev_named:
        refusals.append(
            f"OMS_API_KEYS still holds the development keys ({', '.join(dev_named)}): set your own "
            f"name:role:key entries, comma-separated, each key at least {MIN_API_KEY_LENGTH} characters "
            f"(generate one with: {NEW_KEY_COMMAND})"
        )
    dev_carriers = [carrier for carrier, secret in settings.carrier_secret_table().items() if secret in DEV_SECRETS]
    if dev_carriers:
        refusals.append(
            f"OMS_CARRIER_SECRETS still holds the development secrets ({', '.join(dev_carriers)}): set "
            f"carrier:secret entries, comma-separated, the secrets you share with each carrier "
            f"(generate one with: {NEW_KEY_COMMAND})"
        )
    if settings.codec_keys is None or not settings.codec_keys.get_secret_value().strip():
        refusals.append(
            "OMS_CODEC_KEYS is not set, so Temporal would store every order's personal data (names, "
            "addresses, e-mail addresses) in plaintext: set kid:base64key entries, comma-separated, "
            f"the first encrypting (generate one with: {NEW_CODEC_KEY_COMMAND})"
        )
    if settings.console_secret and len(settings.console_secret) < MIN_CONSOLE_SECRET_LENGTH:
        refusals.append(
            f"OMS_CONSOLE_SECRET is shorter than {MIN_CONSOLE_SECRET_LENGTH} characters: set a random one "
            f"(generate one with: {NEW_KEY_COMMAND}), or leave it unset for a random key per API process"
        )
    return refusals
