"""What the C++ Kea hook needs from Python: its entry points, the inventory, the build.

The C++ sources ship in src/ as package data, so a wheel can build the hook."""
