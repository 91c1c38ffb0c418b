SUFFIX = b"-a"
