"""Simulation errors, each with its HTTP status and stable code."""

from __future__ import annotations

from app.kit.errors import Conflict, NotFound


class SimulationNotFound(NotFound):
    code, title = "simulation_not_found", "Simulation not found"

    def __init__(self) -> None:
        super().__init__("No simulation with this id.")


class SimulationNotDone(Conflict):
    code, title = "simulation_not_done", "Simulation not done"

    def __init__(self, status: str) -> None:
        super().__init__(f"The simulation is {status}; its result exists once it is done.")
