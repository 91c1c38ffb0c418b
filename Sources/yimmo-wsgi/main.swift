import WSGIServer
import CPythonShim
print(YPy_IsInitialized())
