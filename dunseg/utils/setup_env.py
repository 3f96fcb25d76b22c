import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every dunseg module that registers components.

    Args:
        init_default_scope (bool): also make ``dunseg`` the default scope, so
            that registries build components from dunseg's nodes first.
    """
    import dunseg.datasets  # noqa: F401
    import dunseg.engine  # noqa: F401
    import dunseg.evaluation  # noqa: F401
    import dunseg.models  # noqa: F401
    import dunseg.structures  # noqa: F401
    import dunseg.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('dunseg'):
        DefaultScope.get_instance('dunseg', scope_name='dunseg')
    elif current.scope_name != 'dunseg':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "dunseg"; switching to "dunseg".')
        DefaultScope.get_instance(f'dunseg-{datetime.datetime.now()}',
                                  scope_name='dunseg')
