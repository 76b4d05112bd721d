"""What only the development stack runs (`oms dev`): never part of a deployment's request path.

    supervisor.py  starts, restarts and stops the stack's processes
    simulator.py   plays the warehouse and the carriers over the HTTP API
"""
