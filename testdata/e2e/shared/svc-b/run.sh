#!/bin/sh
echo service b: a little longer
