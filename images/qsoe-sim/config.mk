# Build configuration defaults. build.conf (one per revision in a generated
# series) is read first and the make command line overrides both.
#
#   BUILD_NO         shown in the banner as v0.<BUILD_NO>
#   BUILD_ID         free-form id shown in the banner
#   FAULT            none | wedge | panic | stall | nofence | flaky:<percent>
#   UNRELATED_PANIC  1 = devb-nvme panics ("controller timeout") regardless of FAULT
BUILD_NO ?= 0
BUILD_ID ?= dev
FAULT ?= none
UNRELATED_PANIC ?= 0
