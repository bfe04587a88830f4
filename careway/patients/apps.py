from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "careway.patients"
    label = "patients"
