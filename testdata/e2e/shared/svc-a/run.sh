#!/bin/sh
echo service a
