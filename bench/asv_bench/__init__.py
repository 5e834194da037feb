"""lowbit's asv suite (asv.conf.json, ci/README.md "History across commits and machines").

Every case comes from the same registry and catalog as `make bench`: formats and tiers from
lowbit (lowbit.FORMATS, lowbit.tiers()), shapes from bench/shapes.toml, and the gate's
callgrind and in-run ratio cases from ci/gate/. Each benchmark class measures once in
`setup_cache` and its `track_` methods read the numbers out, so one `make history` costs one
measurement of each kind.
"""
