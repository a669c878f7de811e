# Builds the sluice binary on Debian 12 (the same packages scripts/install-deps.sh installs).
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends g++ cmake ninja-build pkg-config \
      librdkafka-dev libpq-dev libpqxx-dev nlohmann-json3-dev libhiredis-dev libyaml-cpp-dev \
      libcurl4-openssl-dev libsqlite3-dev catch2 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF \
 && cmake --build /build --target sluice

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends librdkafka1 libpq5 libpqxx-6.4 \
      libhiredis0.14 libyaml-cpp0.7 libcurl4 libsqlite3-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/sluice /usr/local/bin/sluice
ENTRYPOINT ["/usr/local/bin/sluice"]
