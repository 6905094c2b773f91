# Build: docker build -t alertmanager-sipgate .
# Run:   docker run -p 9876:9876 alertmanager-sipgate            (dry run)
#        docker run -p 9876:9876 -v $PWD/config.yml:/etc/alertmanager-sipgate/config.yml \
#          -v sipgate-data:/data alertmanager-sipgate --config.file=/etc/alertmanager-sipgate/config.yml
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=main" \
      -o /out/alertmanager-sipgate ./cmd/alertmanager-sipgate \
 && mkdir -p /out/data

# scratch: the static binary, CA certificates for sipgate's TLS, and the
# time zones are embedded (time/tzdata) for the tz template function.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/alertmanager-sipgate /bin/alertmanager-sipgate
COPY --from=build --chown=65534:65534 /out/data /data
USER 65534:65534
EXPOSE 9876
VOLUME /data
ENTRYPOINT ["/bin/alertmanager-sipgate"]
CMD ["--storage.path=/data"]
