# kea-fanvil on Debian bookworm: the same setup script as the README's quick start.
#   docker build -t kea-fanvil .
#   docker run --rm --privileged kea-fanvil              # the demo lab (needs network namespaces)
#   docker run --rm --privileged kea-fanvil bash scripts/test.sh
# The hook is built inside the image against the image's Kea, as Kea requires.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /opt/kea-fanvil
COPY . .
RUN rm -rf .venv hook/build && bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
CMD ["bash", "scripts/demo.sh"]
