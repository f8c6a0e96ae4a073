#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A guest test program that fails on purpose (tools/test-runner/run.sh
# checks that the runner turns red): one "not ok", exit status 1.
echo "TAP version 13"
echo "1..2"
echo "ok 1 this one passes"
echo "not ok 2 this one fails on purpose"
exit 1
