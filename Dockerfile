# kea-fanvil on Debian 12, 13 or 14: the same setup script as the README's quick start.
#   docker build -t kea-fanvil .                               # bookworm: Kea 2.2
#   docker build --build-arg DEBIAN=trixie -t kea-fanvil .     # Kea 2.6 (forky: Kea 3.0)
#   docker run --rm --privileged kea-fanvil                    # the demo lab (needs network namespaces)
#   docker run --rm --privileged kea-fanvil bash scripts/test.sh
# The hook is built inside the image against the image's Kea, as Kea requires, and installed
# into Kea's hooks directory. Nothing in the project depends on Docker: scripts/test-matrix.sh
# proves the other releases with debootstrap instead.
ARG DEBIAN=bookworm
FROM debian:${DEBIAN}
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /opt/kea-fanvil
COPY . .
RUN rm -rf .venv kea_fanvil/kea_hook/src/build && bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
CMD ["bash", "scripts/demo.sh"]
