"""The local stack: Omni emulator, HTTP -> Lambda gateway, emulated AWS (moto server) and its seeding."""
